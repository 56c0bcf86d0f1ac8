# scaling.gp — the cost of one op as sandboxes are added (bench/run):
#   gnuplot -e "datafile='..'; outfile='..'" scaling.gp
# data: sandboxes cat_state_us cat_hello_us hotadd_ms ls_us
set terminal pngcairo size 1000,520 font "sans,10"
set output outfile
set multiplot layout 1,2 title "sandboxfs: per-op cost against the number of sandboxes on the mount (median)"
set logscale x 2
set xlabel "sandboxes"
set grid
set key top left
set ylabel "µs"
set yrange [0:*]
plot datafile using 1:2 with linespoints lw 2 title "cat state (sandboxfs)", \
     ''       using 1:3 with linespoints lw 2 title "cat on hello (direct_io)", \
     ''       using 1:5 with linespoints lw 2 title "ls of the root"
set ylabel "ms"
plot datafile using 1:4 with linespoints lw 2 title "vCPU hot-add (paused guest)"
unset multiplot
