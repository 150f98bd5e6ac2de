/* Calls the Solana `abort` syscall. */
extern void abort(void);
unsigned long entrypoint(const unsigned char *input) {
    if (input[0] == 7)
        abort();
    return input[0];
}
