# plot.gp — latency per op, sandboxfs vs raw QMP vs libvirt (median, log
# scale).  Called by bench/run:
#   gnuplot -e "datafile='..'; outfile='..'; haslv=0|1" plot.gp
set terminal pngcairo size 1200,560 font "sans,10"
set output outfile
set title "sandboxfs vs raw QMP vs libvirt: median latency per operation (TCG guest)"
set ylabel "milliseconds (log scale)"
set logscale y
set yrange [0.005:*]
set grid ytics
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "-"
set key top left
set xtics nomirror
if (haslv) {
  plot datafile using 2:xtic(1) title "sandboxfs (file op)" lc rgb "#2a7ab0", \
       ''       using 3 title "raw QMP (C client)" lc rgb "#7f7f7f", \
       ''       using 4 title "libvirt (virsh)" lc rgb "#d9822b"
} else {
  plot datafile using 2:xtic(1) title "sandboxfs (file op)" lc rgb "#2a7ab0", \
       ''       using 3 title "raw QMP (C client)" lc rgb "#7f7f7f"
}
