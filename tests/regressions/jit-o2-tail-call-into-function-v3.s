    .fill 1, 0x100001085
    exit
    or64 r0, 0
    .fill 1, 0xffffffff12f41218
    .fill 1, 0x0
    .fill 1, 0x8e0554b926c58195
    .fill 1, 0xfffffffc00001085
