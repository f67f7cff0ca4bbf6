// A setting's word is the runtime's business: turning an integer into a `&'static str` would
// read whatever memory it names.
fn main() {
    let _ = <&'static str as toggles::SettingValue>::from_bits(1);
}
