call function_3
mov64 r0, r3
exit
function_3:
ja +1
call function_5
function_5:
mov64 r3, 7
exit
