    callx r6
