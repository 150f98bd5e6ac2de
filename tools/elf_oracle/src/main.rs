// Differential oracle for TBPF's ELF loader: load each file named on stdin with the
// reference loader and print one comparable line (see README.md).
use solana_sbpf::{elf::Executable, program::{BuiltinProgram, SBPFVersion, JitCompiler}, vm::{Config, ContextObject}, memory_region::MemoryMapping, vm::EncryptedHostAddressToEbpfVm};
use std::io::BufRead;
use std::sync::Arc;

#[derive(Debug, Clone, Default, PartialEq)]
struct Ctx { remaining: u64 }
impl ContextObject for Ctx {
    fn consume(&mut self, amount: u64) { self.remaining = self.remaining.saturating_sub(amount); }
    fn get_remaining(&self) -> u64 { self.remaining }
    fn active_mapping_ptr(&mut self) -> std::ptr::NonNull<MemoryMapping> { unimplemented!() }
}
fn dummy(_v: EncryptedHostAddressToEbpfVm<Ctx>, _a: u64, _b: u64, _c: u64, _d: u64, _e: u64) {}
fn dummy_codegen(_j: &mut JitCompiler<Ctx>) {}

fn fnv(data: &[u8]) -> u64 { let mut h: u64 = 0xcbf29ce484222325; for b in data { h ^= *b as u64; h = h.wrapping_mul(0x100000001b3); } h }

fn main() {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let mut parts = line.split(' ');
        let path = parts.next().unwrap().to_string();
        let mode: u32 = parts.next().unwrap_or("0").parse().unwrap();
        let syscalls: Vec<String> = parts.map(|s| s.to_string()).collect();
        let mut config = Config::default();
        if mode & 1 != 0 { config.reject_broken_elfs = true; config.optimize_rodata = false; }
        if mode & 2 != 0 { config.enable_symbol_and_section_labels = true; }
        if mode & 4 != 0 { config.enabled_sbpf_versions = SBPFVersion::V3..=SBPFVersion::V4; }
        let mut loader = BuiltinProgram::<Ctx>::new_loader(config);
        for name in &syscalls {
            loader.register_function(name, (dummy, dummy_codegen)).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        match Executable::<Ctx>::load(&bytes, Arc::new(loader)) {
            Ok(exe) => {
                let (vaddr, text) = exe.get_text_bytes();
                let ro = exe.get_ro_region();
                let mut keys: Vec<(u32, usize)> = exe.get_function_registry().iter().map(|(k, (_n, pc))| (k, pc)).collect();
                keys.sort();
                let ro_bytes = exe.get_ro_section();
                println!("OK {} {:#x} {:#x} {:016x} {} {:016x} {:?}", exe.get_entrypoint_instruction_offset(), vaddr, ro.vm_addr_range().start, fnv(text), ro_bytes.len(), fnv(ro_bytes), keys);
            }
            Err(e) => println!("ERR {:?}", e),
        }
    }
}
