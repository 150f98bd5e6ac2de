    mov64 r9, -2147483648
    mov64 r4, -1
    .fill 1, 0xa7ec05bc0b2649ce
