//! Device wire frames (host → device requests, device → host responses):
//! decoding never panics, refuses anything over `MAX_FRAME`, and a frame that
//! decodes re-encodes to a frame that decodes to the same value.
#![no_main]

use armsledger_device::cobs;
use armsledger_device::protocol::{
    MAX_FRAME, decode_request, decode_response, encode_request, encode_response,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cobs::decode(data);
    if let Ok(f) = decode_request(data) {
        assert!(data.len() <= MAX_FRAME);
        let wire = encode_request(&f).expect("a decoded request re-encodes");
        let (&last, frame) = wire.split_last().expect("non-empty");
        assert_eq!(last, 0, "frames end with the delimiter");
        assert_eq!(decode_request(frame).expect("re-decodes"), f);
    }
    if let Ok(f) = decode_response(data) {
        assert!(data.len() <= MAX_FRAME);
        let wire = encode_response(&f).expect("a decoded response re-encodes");
        let (_, frame) = wire.split_last().expect("non-empty");
        assert_eq!(decode_response(frame).expect("re-decodes"), f);
    }
});
