//! Write TOS contracts for TBPF in Rust.
//!
//! `no_std`, no dependencies, no allocator. The crate gives you:
//!
//! * [`entrypoint!`]: exports `extern "C" fn name(input: *const u8, len: u64) -> u64`,
//!   the entry-point ABI of the TOS runtime (parameters mapped at `0x4_0000_0000`,
//!   `r1` = their address, `r2` = their length), calling a safe `fn(&[u8]) -> u64`;
//! * [`syscalls`]: every TOS syscall declared `extern "C"` (generated from TBPF's
//!   syscall registry, so names and arguments match the runtime);
//! * safe wrappers ([`log`], [`storage`], [`caller`], [`balance`], [`transfer`],
//!   [`emit_event`], [`set_return_data`], [`invoke`], [`asset_create`], ...) and an
//!   [`Input`] reader for parameters in the layout `tbpf chain invoke --param` writes.
//!
//! Building a contract with this crate needs an sBPF-capable Rust toolchain (for
//! example Solana's platform tools, `cargo build-sbf`); TBPF does not ship or use one.
//! On an ordinary host the crate type-checks (`cargo check`), which is what TBPF's
//! tests do.
#![no_std]
#![deny(missing_docs)]

pub mod syscalls;

pub use syscalls::{code, gas, limit};

/// A 32-byte hash, address or asset id.
pub type Hash = [u8; 32];

/// The native asset's id (all zeros).
pub const NATIVE_ASSET: Hash = [0u8; 32];

/// Exit codes the examples use (any non-zero exit rolls the invocation back).
pub mod exit {
    /// Success: the invocation's changes commit.
    pub const SUCCESS: u64 = 0;
    /// Malformed or missing parameters.
    pub const BAD_INPUT: u64 = 1;
    /// The caller may not do this.
    pub const UNAUTHORIZED: u64 = 2;
    /// An amount would overflow a u64.
    pub const OVERFLOW: u64 = 3;
    /// Not enough balance, liquidity or supply.
    pub const INSUFFICIENT: u64 = 4;
    /// No such key, token or record.
    pub const NOT_FOUND: u64 = 5;
    /// Already initialised or already exists.
    pub const EXISTS: u64 = 6;
    /// Not initialised.
    pub const NOT_INITIALIZED: u64 = 7;
    /// The result is worse than the caller's limit.
    pub const SLIPPAGE: u64 = 8;
    /// A syscall returned an unexpected error code.
    pub const SYSCALL_FAILED: u64 = 9;
}

/// An error code returned by a TOS syscall (see [`code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code(pub u64);

impl Code {
    /// True if `rc` is an error code (a negative number read as i64).
    pub fn is_error(rc: u64) -> bool {
        (rc as i64) < 0
    }

    fn check(rc: u64) -> Result<u64, Code> {
        if Code::is_error(rc) {
            Err(Code(rc))
        } else {
            Ok(rc)
        }
    }
}

/// Export `fn(&[u8]) -> u64` as an entry point.
///
/// `entrypoint!(handler)` exports it as `entrypoint` (the default entry point, and the
/// one other contracts reach); `entrypoint!(name, handler)` under another name, which
/// `tbpf chain invoke --entry name` selects.
#[macro_export]
macro_rules! entrypoint {
    ($handler:path) => {
        $crate::entrypoint!(entrypoint, $handler);
    };
    ($name:ident, $handler:path) => {
        /// Entry point exported for the TOS runtime (r1 = input, r2 = its length).
        ///
        /// # Safety
        /// Called by the VM with a valid input region.
        #[no_mangle]
        pub unsafe extern "C" fn $name(input: *const u8, len: u64) -> u64 {
            // SAFETY: the runtime maps `len` readable bytes at `input`.
            let data = unsafe { core::slice::from_raw_parts(input, len as usize) };
            $handler(data)
        }
    };
}

/// Define the panic handler every `no_std` contract needs: it aborts the contract
/// (`abort` syscall), which rolls the invocation back.
#[macro_export]
macro_rules! panic_handler {
    () => {
        #[panic_handler]
        fn panic(_info: &core::panic::PanicInfo) -> ! {
            // SAFETY: `abort` takes no arguments and never returns.
            unsafe { $crate::syscalls::abort() }
        }
    };
}

/// Log `Program log: <msg>` (100 gas + 1 per byte).
pub fn log(msg: &str) {
    // SAFETY: a valid UTF-8 slice.
    unsafe {
        syscalls::tos_log(msg.as_ptr(), msg.len() as u64);
    }
}

/// Decimal digits of `value` into `out`; returns how many (1..=20).
pub fn format_u64(out: &mut [u8; 20], mut value: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for i in 0..n {
        out[i] = tmp[n - 1 - i];
    }
    n
}

/// Log `Program log: <label>: <value>` (labels longer than 64 bytes are cut).
pub fn log_u64(label: &str, value: u64) {
    let mut line = [0u8; 64 + 2 + 20];
    let label = &label.as_bytes()[..label.len().min(64)];
    line[..label.len()].copy_from_slice(label);
    let mut n = label.len();
    line[n] = b':';
    line[n + 1] = b' ';
    n += 2;
    let mut digits = [0u8; 20];
    let count = format_u64(&mut digits, value);
    line[n..n + count].copy_from_slice(&digits[..count]);
    n += count;
    // SAFETY: ASCII label prefix (cut on a byte boundary of the caller's str is fine for
    // ASCII labels; tos_log rejects invalid UTF-8 by aborting) and digits.
    unsafe {
        syscalls::tos_log(line.as_ptr(), n as u64);
    }
}

fn hash_from(getter: unsafe extern "C" fn(*mut u8) -> u64) -> Hash {
    let mut out = [0u8; 32];
    // SAFETY: 32 writable bytes.
    unsafe {
        getter(out.as_mut_ptr());
    }
    out
}

/// The invoking contract, or the transaction's sender for a top-level call.
pub fn caller() -> Hash {
    hash_from(syscalls::tos_get_caller)
}

/// This contract's address.
pub fn contract_hash() -> Hash {
    hash_from(syscalls::tos_get_contract_hash)
}

/// The address that sent the transaction.
pub fn tx_source() -> Hash {
    hash_from(syscalls::tos_get_tx_source)
}

/// The transaction's hash.
pub fn tx_hash() -> Hash {
    hash_from(syscalls::tos_get_tx_hash)
}

/// The hash of the latest committed block (the parent of the one being built).
pub fn block_hash() -> Hash {
    hash_from(syscalls::tos_get_block_hash)
}

/// The height of the block being built.
pub fn block_height() -> u64 {
    // SAFETY: no arguments.
    unsafe { syscalls::tos_get_block_height() }
}

/// The block's timestamp in seconds.
pub fn block_timestamp() -> u64 {
    // SAFETY: no arguments.
    unsafe { syscalls::tos_get_block_timestamp() }
}

/// `account`'s balance of `asset` (0 if none).
pub fn balance(account: &Hash, asset: &Hash) -> u64 {
    // SAFETY: two 32-byte arrays.
    unsafe { syscalls::tos_get_balance(account.as_ptr(), asset.as_ptr()) }
}

/// Pay `amount` of `asset` from this contract to `to`.
pub fn transfer(to: &Hash, asset: &Hash, amount: u64) -> Result<(), Code> {
    // SAFETY: two 32-byte arrays.
    Code::check(unsafe { syscalls::tos_transfer(to.as_ptr(), asset.as_ptr(), amount) })
        .map(|_| ())
}

/// Destroy `amount` of this contract's `asset`.
pub fn burn(asset: &Hash, amount: u64) -> Result<(), Code> {
    // SAFETY: a 32-byte array.
    Code::check(unsafe { syscalls::tos_burn(asset.as_ptr(), amount) }).map(|_| ())
}

/// Create an asset owned by this contract; its id.
pub fn asset_create(name: &str, decimals: u8) -> Result<Hash, Code> {
    let mut id = [0u8; 32];
    // SAFETY: a valid slice and 32 writable bytes.
    let rc = unsafe {
        syscalls::tos_asset_create(name.as_ptr(), name.len() as u64, decimals as u64,
                                   id.as_mut_ptr())
    };
    Code::check(rc).map(|_| id)
}

/// Mint `amount` of an asset this contract owns, to this contract.
pub fn asset_mint(asset: &Hash, amount: u64) -> Result<(), Code> {
    // SAFETY: a 32-byte array.
    Code::check(unsafe { syscalls::tos_asset_mint(asset.as_ptr(), amount) }).map(|_| ())
}

/// Fire an event with up to 4 topics.
pub fn emit_event(topics: &[Hash], data: &[u8]) {
    // SAFETY: `topics` is contiguous 32-byte arrays; `data` a valid slice.
    unsafe {
        syscalls::tos_fire_event(topics.as_ptr() as *const u8, topics.len() as u64,
                                 data.as_ptr(), data.len() as u64);
    }
}

/// A 32-byte topic from a short name (its bytes, zero padded; at most 32).
pub fn topic(name: &str) -> Hash {
    let mut out = [0u8; 32];
    let bytes = &name.as_bytes()[..name.len().min(32)];
    out[..bytes.len()].copy_from_slice(bytes);
    out
}

/// Set the invocation's return data (at most 1,024 bytes).
pub fn set_return_data(data: &[u8]) {
    // SAFETY: a valid slice.
    unsafe {
        syscalls::tos_set_return_data(data.as_ptr(), data.len() as u64);
    }
}

/// Copy the last successful callee's return data into `out`; its length.
pub fn get_return_data(out: &mut [u8]) -> Result<usize, Code> {
    // SAFETY: a valid mutable slice.
    Code::check(unsafe { syscalls::tos_get_return_data(out.as_mut_ptr(), out.len() as u64) })
        .map(|n| n as usize)
}

/// Invoke another contract's `entrypoint` with `input`, at most `gas_limit` gas (0: all
/// that is left) and `deposit` native coins.
pub fn invoke(contract: &Hash, input: &[u8], gas_limit: u64, deposit: u64) -> Result<(), Code> {
    // SAFETY: a 32-byte array and a valid slice.
    let rc = unsafe {
        syscalls::tos_invoke_contract(contract.as_ptr(), input.as_ptr(), input.len() as u64,
                                      gas_limit, deposit)
    };
    Code::check(rc).map(|_| ())
}

/// The contract's storage: keys of 1..=256 bytes, values of 1..=65,536 bytes.
pub mod storage {
    use super::{syscalls, Code};

    /// Read `key` into `out`: `Ok(None)` if absent, `Ok(Some(len))` if present,
    /// `Err(SHORT_BUFFER)` if `out` is too small (nothing written).
    pub fn get(key: &[u8], out: &mut [u8]) -> Result<Option<usize>, Code> {
        // SAFETY: valid slices.
        let rc = unsafe {
            syscalls::tos_storage_load(key.as_ptr(), key.len() as u64, out.as_mut_ptr(),
                                       out.len() as u64)
        };
        Code::check(rc).map(|n| if n == 0 { None } else { Some(n as usize) })
    }

    /// Store `value` under `key` (an empty value deletes the key).
    pub fn set(key: &[u8], value: &[u8]) {
        // SAFETY: valid slices.
        unsafe {
            syscalls::tos_storage_store(key.as_ptr(), key.len() as u64, value.as_ptr(),
                                        value.len() as u64);
        }
    }

    /// Delete `key`; true if it existed.
    pub fn delete(key: &[u8]) -> bool {
        // SAFETY: a valid slice.
        unsafe { syscalls::tos_storage_delete(key.as_ptr(), key.len() as u64) == 0 }
    }

    /// An 8-byte little-endian value (`None` if absent or of another size).
    pub fn get_u64(key: &[u8]) -> Option<u64> {
        let mut buf = [0u8; 8];
        match get(key, &mut buf) {
            Ok(Some(8)) => Some(u64::from_le_bytes(buf)),
            _ => None,
        }
    }

    /// Store an 8-byte little-endian value.
    pub fn set_u64(key: &[u8], value: u64) {
        set(key, &value.to_le_bytes());
    }
}

/// A read cursor over the parameters, in the layout `tbpf chain invoke --param` writes
/// (integers little endian; `hash`/`addr` 32 bytes; `bytes`/`str` a u32 length, then
/// the bytes). A short read returns `None` and makes [`Input::finish`] fail.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
    ok: bool,
}

impl<'a> Input<'a> {
    /// Start reading `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0, ok: true }
    }

    /// The next `n` bytes.
    pub fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        if !self.ok || n > self.data.len() - self.pos {
            self.ok = false;
            return None;
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Some(out)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Option<u8> {
        self.raw(1).map(|b| b[0])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.raw(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        self.raw(8).map(|b| {
            let mut v = [0u8; 8];
            v.copy_from_slice(b);
            u64::from_le_bytes(v)
        })
    }

    /// A 32-byte hash or address.
    pub fn hash(&mut self) -> Option<&'a Hash> {
        self.raw(32).and_then(|b| b.try_into().ok())
    }

    /// A u32-length-prefixed byte string.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.raw(n)
    }

    /// True if every read succeeded and every byte was read.
    pub fn finish(&self) -> bool {
        self.ok && self.pos == self.data.len()
    }
}
