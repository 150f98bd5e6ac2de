/* Two-object link: calls a global function and reads a const table defined in
 * multi_lib.c. Input [x, i]: returns (2x + 1) + shared_table[i & 3]. */
typedef unsigned long u64;
typedef unsigned char u8;

extern const u64 shared_table[4];
u64 lib_function(u64 x);

u64 entrypoint(const u8 *input) {
    return lib_function(input[0]) + shared_table[input[1] & 3];
}
