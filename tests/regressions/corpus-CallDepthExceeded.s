    or64 r0, 0
    or64 r0, 0
    or64 r0, 0
    lddw r1, 0x100000028
    callx r1
