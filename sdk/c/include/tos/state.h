/* TOS contract SDK for C: storage keys, typed storage values, event topics.
 *
 * Storage is a per-contract map from keys (1..256 bytes) to values (1..65536 bytes);
 * storing an empty value deletes the key. Each read costs 1000 gas plus 1 per byte of
 * key and value, each write 5000 plus 2 per byte: pack what is read together into one
 * value. Event topics are 32 bytes; tos_topic makes one from a short name.
 */
#ifndef TOS_STATE_H
#define TOS_STATE_H

#include "mem.h"
#include "syscalls.h"
#include "types.h"

/* The native asset's id: 32 zero bytes. */
static const u8 TOS_NATIVE_ASSET[TOS_HASH_SIZE] TOS_UNUSED = {0};

/* Bytes of a key made of a one-byte prefix and a hash (tos_key_hash). */
#define TOS_KEY_HASH_SIZE (1 + TOS_HASH_SIZE)
/* Bytes of a key made of a one-byte prefix and a u64 (tos_key_u64). */
#define TOS_KEY_U64_SIZE 9

/* out = prefix || hash (33 bytes): e.g. a balance per address. */
static inline void tos_key_hash(u8 *out, u8 prefix, const u8 *hash) {
    out[0] = prefix;
    tos_hash_copy(out + 1, hash);
}

/* out = prefix || id as u64 LE (9 bytes): e.g. a record per token id. */
static inline void tos_key_u64(u8 *out, u8 prefix, u64 id) {
    out[0] = prefix;
    tos_store_u64le(out + 1, id);
}

/* Read an 8-byte little-endian value: true and *out if present; false and *out = 0
 * if the key is absent or holds a value of another size. */
static inline bool tos_storage_get_u64(const void *key, u64 key_len, u64 *out) {
    u8 buf[8];
    u64 n = tos_storage_load(key, key_len, buf, sizeof(buf));
    if (n != 8) {
        *out = 0;
        return false;
    }
    *out = tos_load_u64le(buf);
    return true;
}

/* Store an 8-byte little-endian value (0 is stored too; delete with
 * tos_storage_delete). */
static inline void tos_storage_put_u64(const void *key, u64 key_len, u64 value) {
    u8 buf[8];
    tos_store_u64le(buf, value);
    tos_storage_store(key, key_len, buf, sizeof(buf));
}

/* True if the key holds exactly 32 bytes, copied to out32. */
static inline bool tos_storage_get_hash(const void *key, u64 key_len, u8 *out32) {
    return tos_storage_load(key, key_len, out32, TOS_HASH_SIZE) == TOS_HASH_SIZE;
}

/* A 32-byte event topic: the name's bytes (at most 32), zero padded. */
static inline void tos_topic(u8 *out32, const char *name) {
    u64 i = 0;
    for (; i < TOS_HASH_SIZE && name[i] != 0; i++) out32[i] = (u8)name[i];
    for (; i < TOS_HASH_SIZE; i++) out32[i] = 0;
}

#endif /* TOS_STATE_H */
