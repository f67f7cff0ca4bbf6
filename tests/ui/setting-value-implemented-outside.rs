// Only the runtime's own types are setting values: their words are the runtime's to read.
#[derive(Clone, Copy)]
struct Price(u32);

impl toggles::SettingValue for Price {
    const TYPE_NAME: &'static str = "Price";
    fn to_value(self) -> toggles::Value {
        toggles::Value::UInt(u64::from(self.0))
    }
}

fn main() {}
