module example.com/quest-lib

go 1.19
