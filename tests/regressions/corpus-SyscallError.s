    syscall sol_log_64_
