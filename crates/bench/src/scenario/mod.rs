//! The six scenarios of issue 8, each reusing the library code it measures.

pub mod demo;
pub mod device;
pub mod ingest;
pub mod publish;
pub mod storage;
pub mod trace;
pub mod verify;
