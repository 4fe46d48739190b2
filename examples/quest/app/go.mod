module example.com/quest

go 1.19

require example.com/quest-lib v0.0.0

replace example.com/quest-lib => ../quest-lib
