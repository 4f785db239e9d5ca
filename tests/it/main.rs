//! The one integration-test binary: each module drives the library or the binary against the mocks.

mod api;
mod binary;
mod browser;
mod console;
mod crash;
mod exact_requests;
mod faults;
mod mock_contract;
mod oneroster;
mod openapi;
mod provisioning;
mod quota;
mod secrets;
mod shared_quota;
mod store;
mod store_copy;
mod support;
mod year;
