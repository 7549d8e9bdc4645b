//! The saved-plan loader: any bytes are a plan or an error; a plan read is written and read back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vapp::plan::SavedPlan;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = SavedPlan::from_slice(data) else { return };
    let bytes = serde_json::to_vec(&plan).expect("a saved plan serialises");
    let back = SavedPlan::from_slice(&bytes).expect("a serialised plan reads back");
    assert_eq!(back, plan, "a saved plan reads back equal");
});
