//! The six scenarios of issue 8 and the index of issue 19, each reusing the
//! library code it measures.

pub mod demo;
pub mod device;
pub mod index;
#[cfg(feature = "jmt")]
pub mod index_jmt;
pub mod ingest;
pub mod publish;
pub mod restart;
pub mod storage;
pub mod trace;
pub mod verify;
