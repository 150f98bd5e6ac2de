    div32 r8, r3
