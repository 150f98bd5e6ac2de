//! The counter example (`examples/counter/counter.c`) in Rust: `entrypoint` adds 1, or
//! the u64 parameter, to a stored counter, fires `Incremented` and returns the value;
//! `get` returns it.
//!
//! Building it for sBPF needs an sBPF-capable Rust toolchain (e.g. Solana's platform
//! tools); on a host, `cargo check --examples` type-checks it.
#![no_std]
#![no_main]

use tos_tbpf_sdk::{emit_event, entrypoint, exit, set_return_data, storage, topic, Input};

const KEY: &[u8] = b"count";

fn increment(input: &[u8]) -> u64 {
    let mut params = Input::new(input);
    let step = if input.is_empty() { Some(1) } else { params.u64() };
    let step = match step {
        Some(step) if params.finish() => step,
        _ => return exit::BAD_INPUT,
    };
    let count = match storage::get_u64(KEY).unwrap_or(0).checked_add(step) {
        Some(count) => count,
        None => return exit::OVERFLOW,
    };
    storage::set_u64(KEY, count);
    emit_event(&[topic("Incremented")], &count.to_le_bytes());
    set_return_data(&count.to_le_bytes());
    exit::SUCCESS
}

fn read(input: &[u8]) -> u64 {
    if !input.is_empty() {
        return exit::BAD_INPUT;
    }
    set_return_data(&storage::get_u64(KEY).unwrap_or(0).to_le_bytes());
    exit::SUCCESS
}

entrypoint!(increment);
entrypoint!(get, read);
tos_tbpf_sdk::panic_handler!();
