use toggles::Setting;

pub static MAX_UPLOAD_BYTES: Setting<u64> = Setting::new(10);

fn main() {}
