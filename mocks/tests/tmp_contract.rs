#[path = "../../tests/it/mock_contract.rs"]
mod mock_contract;
