/* TBPF's Solana probe: a program that does to its input whatever its instruction data
 * says, so the differential tester (tbpf.solana_oracle) can drive every runtime path the
 * six third-party programs never reach: lamport, data-length, data and owner changes
 * checked at deserialization, return data, every VM fault, syscall failures, sysvars,
 * hashes of the whole serialized input (a byte-for-byte check of the layout) and the
 * deprecated allocator. Built with clang -target bpf and TBPF's linker (v0); see
 * README.md. No libc: Solana-ABI syscalls only.
 *
 * Instruction data is a sequence of commands; all integers little endian:
 *   01 i u64      set the lamports of account i           02 i u64   set its data length
 *   03 i u16 b    write byte b at data offset               04 i key   set its owner
 *   05 u16 n ..   sol_set_return_data(n bytes)              06 u64     return u64 now
 *   07 u64 a s    load s (1/2/4/8) bytes at address a, log  08 u64 a   store 1 byte at a
 *   09 u8 n ..    sol_log_(n bytes)                         0a         abort()
 *   0b u8 n .. u32 l u32 c   sol_panic_(file, n, l, c)      0c u64 d   log 1000 / d
 *   0d u64 n      log sol_alloc_free_(n, 0)                 0e u64 n   spin n loop turns
 *   0f u16 n      recurse n calls deep                      10 u64 d u64 s u64 n  memcpy in input
 *   11 u64 a u64 n   sol_log_(a, n)                         12         log the Clock sysvar
 *   13         log the Rent sysvar                           14         sol_log_compute_units_
 *   15         log sol_remaining_compute_units()             16 u64 n   sol_get_return_data(n)
 *   17         log sha256 and keccak256 of the whole input   18         sol_log_data(2 slices)
 *   19         log sol_get_stack_height()                    1a i       sol_log_pubkey(key of i)
 *   1b u64 n   memmove/memset/memcmp on n bytes of the heap  1c         log r2, data ptr, sizes
 *   1d i       log every header field of account i           1e u64 n   memset n bytes at the stack top
 *   1f         sol_log_pubkey(the program id in the input)
 * An unknown command returns custom error 0xbad; running off the end returns 0.
 */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

extern void abort(void);
extern void sol_panic_(const u8 *file, u64 len, u64 line, u64 column);
extern void sol_log_(const u8 *msg, u64 len);
extern void sol_log_64_(u64, u64, u64, u64, u64);
extern void sol_log_pubkey(const u8 *key);
extern void sol_log_compute_units_(void);
extern void sol_log_data(const void *slices, u64 count);
extern u64 sol_remaining_compute_units(void);
extern u64 sol_get_stack_height(void);
extern u64 sol_set_return_data(const u8 *data, u64 len);
extern u64 sol_get_return_data(u8 *data, u64 len, u8 *program_id);
extern u64 sol_get_clock_sysvar(void *out);
extern u64 sol_get_rent_sysvar(void *out);
extern u64 sol_sha256(const void *slices, u64 count, u8 *out);
extern u64 sol_keccak256(const void *slices, u64 count, u8 *out);
extern u64 sol_memcpy_(void *dst, const void *src, u64 n);
extern u64 sol_memmove_(void *dst, const void *src, u64 n);
extern u64 sol_memset_(void *dst, u64 c, u64 n);
extern u64 sol_memcmp_(const void *a, const void *b, u64 n, u32 *result);
extern u64 sol_alloc_free_(u64 size, u64 free_addr);

#define MAX_ACCOUNTS 16
#define HEAP ((u8 *)0x300000000UL)

struct slice { const u8 *ptr; u64 len; };

static u64 rd(const u8 *p, u64 n) {
    u64 v = 0;
    for (u64 k = 0; k < n; k++)
        v |= (u64)p[k] << (8 * k);
    return v;
}

static void copy(u8 *dst, const u8 *src, u64 n) {
    for (u64 k = 0; k < n; k++)
        dst[k] = src[k];
}

static __attribute__((noinline)) u64 recurse(u64 n) {
    volatile u8 pad[64];
    pad[0] = (u8)n;
    if (n == 0)
        return pad[0];
    return recurse(n - 1) + pad[0];
}

u64 entrypoint(u8 *input, const u8 *r2) {
    u8 *entry[MAX_ACCOUNTS]; /* the 0xFF marker of each account (duplicates resolved) */
    u64 count = rd(input, 8);
    u8 *p = input + 8;
    for (u64 i = 0; i < count; i++) {
        if (p[0] == 0xFF) {
            if (i < MAX_ACCOUNTS)
                entry[i] = p;
            u64 len = rd(p + 80, 8);
            p += 88 + len + 10240;
            p += (8 - (len & 7)) & 7;
            p += 8;
        } else {
            if (i < MAX_ACCOUNTS)
                entry[i] = entry[p[0] & (MAX_ACCOUNTS - 1)];
            p += 8;
        }
    }
    u64 data_len = rd(p, 8);
    const u8 *data = p + 8;
    const u8 *end = data + data_len + 32;
    u64 pc = 0;
    while (pc < data_len) {
        u8 op = data[pc++];
        const u8 *a = data + pc;
        u8 *acct = entry[a[0] & (MAX_ACCOUNTS - 1)];
        switch (op) {
        case 0x01: copy(acct + 72, a + 1, 8); pc += 9; break;
        case 0x02: copy(acct + 80, a + 1, 8); pc += 9; break;
        case 0x03: acct[88 + rd(a + 1, 2)] = a[3]; pc += 4; break;
        case 0x04: copy(acct + 40, a + 1, 32); pc += 33; break;
        case 0x05: sol_set_return_data(a + 2, rd(a, 2)); pc += 2 + rd(a, 2); break;
        case 0x06: return rd(a, 8);
        case 0x07: {
            u64 addr = rd(a, 8), v;
            switch (a[8]) {
            case 1: v = *(volatile u8 *)addr; break;
            case 2: v = *(volatile u16 *)addr; break;
            case 4: v = *(volatile u32 *)addr; break;
            default: v = *(volatile u64 *)addr; break;
            }
            sol_log_64_(addr, v, 0, 0, 7);
            pc += 9;
            break;
        }
        case 0x08: *(volatile u8 *)rd(a, 8) = 0x5a; pc += 8; break;
        case 0x09: sol_log_(a + 1, a[0]); pc += 1 + a[0]; break;
        case 0x0a: abort(); break;
        case 0x0b: sol_panic_(a + 1, a[0], rd(a + 1 + a[0], 4), rd(a + 5 + a[0], 4)); break;
        case 0x0c: sol_log_64_(1000 / rd(a, 8), 0, 0, 0, 12); pc += 8; break;
        case 0x0d: sol_log_64_(sol_alloc_free_(rd(a, 8), 0), 0, 0, 0, 13); pc += 8; break;
        case 0x0e: {
            volatile u64 k = 0;
            for (u64 n = rd(a, 8); k < n; k++)
                ;
            pc += 8;
            break;
        }
        case 0x0f: sol_log_64_(recurse(rd(a, 2)), 0, 0, 0, 15); pc += 2; break;
        case 0x10: sol_memcpy_(input + rd(a, 8), input + rd(a + 8, 8), rd(a + 16, 8)); pc += 24; break;
        case 0x11: sol_log_((const u8 *)rd(a, 8), rd(a + 8, 8)); pc += 16; break;
        case 0x12: {
            u64 clock[5];
            sol_get_clock_sysvar(clock);
            sol_log_64_(clock[0], clock[1], clock[2], clock[3], clock[4]);
            break;
        }
        case 0x13: {
            u64 rent[3];
            sol_get_rent_sysvar(rent);
            sol_log_64_(rent[0], rent[1], rent[2], 0, 19);
            break;
        }
        case 0x14: sol_log_compute_units_(); break;
        case 0x15: sol_log_64_(sol_remaining_compute_units(), 0, 0, 0, 21); break;
        case 0x16: {
            u8 buf[64], pid[32];
            u64 want = rd(a, 8);
            for (int k = 0; k < 64; k++) buf[k] = 0;
            for (int k = 0; k < 32; k++) pid[k] = 0;
            u64 n = sol_get_return_data(buf, want > 64 ? 64 : want, pid);
            sol_log_64_(n, rd(buf, 8), rd(pid, 8), rd(pid + 24, 8), 22);
            pc += 8;
            break;
        }
        case 0x17: {
            struct slice s[1] = {{input, (u64)(end - input)}};
            u8 h[32];
            sol_sha256(s, 1, h);
            sol_log_64_(rd(h, 8), rd(h + 8, 8), rd(h + 16, 8), rd(h + 24, 8), 23);
            sol_keccak256(s, 1, h);
            sol_log_64_(rd(h, 8), rd(h + 8, 8), rd(h + 16, 8), rd(h + 24, 8), 23);
            break;
        }
        case 0x18: {
            struct slice s[2] = {{data, data_len}, {end - 32, 32}};
            sol_log_data(s, 2);
            break;
        }
        case 0x19: sol_log_64_(sol_get_stack_height(), 0, 0, 0, 25); break;
        case 0x1a: sol_log_pubkey(acct + 8); pc += 1; break;
        case 0x1b: {
            u64 n = rd(a, 8);
            u32 cmp = 0;
            sol_memset_(HEAP, 0x11, n);
            sol_memmove_(HEAP + 8, HEAP, n);
            sol_memcmp_(HEAP, HEAP + 4, n, &cmp);
            sol_log_64_(n, cmp, HEAP[0], HEAP[n + 7], 27);
            pc += 8;
            break;
        }
        case 0x1c: sol_log_64_((u64)r2, (u64)data, count, (u64)(end - input), 28); break;
        case 0x1d:
            sol_log_64_(rd(acct, 8), rd(acct + 72, 8), rd(acct + 80, 8),
                        rd(acct + 88 + rd(acct + 80, 8) + 10240 + ((8 - (rd(acct + 80, 8) & 7)) & 7), 8),
                        29);
            sol_log_pubkey(acct + 40);
            pc += 1;
            break;
        case 0x1e: {
            u8 local[16];
            sol_memset_(local, 0x22, rd(a, 8));
            sol_log_64_(local[0], local[15], 0, 0, 30);
            pc += 8;
            break;
        }
        case 0x1f: sol_log_pubkey(end - 32); break;
        default: return 0xbad;
        }
    }
    return 0;
}
