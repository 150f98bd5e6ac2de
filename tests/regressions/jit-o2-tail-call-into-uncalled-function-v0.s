    ldxdw r8, [r1+64]
    call function_6
    syscall sol_set_return_data
function_3:
    lddw r3, 0x200000032
    exit
function_6:
    jgt r8, -778489743, -4
