    stb [r7-49], 2
