# make bench's plot; regenerate with: gnuplot bench.gp (in this directory)
set terminal pngcairo noenhanced size 1400,450 font ",10"
set output "bench.png"
set yrange [0:*]
set multiplot layout 1,3 title "dax kmem hot-add / hot-remove, stock 6.12 vs series (TCG VM, median with min..max)"
set grid
set logscale x 2
set xlabel "device size (GiB)"
set ylabel "seconds per GiB"
set key top right
set title "hot-add (daxctl / raw sysfs)"
plot "hotadd_daxctl.dat" u 1:2:3:4 w yerrorlines t "stock daxctl", \
     "hotadd_daxctl.dat" u 1:5:6:7 w yerrorlines t "series daxctl", \
     "hotadd_sysfs.dat" u 1:2:3:4 w yerrorlines t "stock sysfs", \
     "hotadd_sysfs.dat" u 1:5:6:7 w yerrorlines t "series sysfs", \
     "hotadd_policy.dat" u 1:5:6:7 w yerrorlines t "series online_policy"
set title "hot-remove, nothing in use"
plot "hotremove_daxctl.dat" u 1:2:3:4 w yerrorlines t "stock daxctl", \
     "hotremove_daxctl.dat" u 1:5:6:7 w yerrorlines t "series daxctl", \
     "hotremove_sysfs.dat" u 1:2:3:4 w yerrorlines t "stock sysfs", \
     "hotremove_sysfs.dat" u 1:5:6:7 w yerrorlines t "series sysfs", \
     "hotremove_unbind.dat" u 1:5:6:7 w yerrorlines t "series unbind"
unset logscale x
set xlabel "share of the device in use (%)"
set ylabel "seconds"
set title "hot-remove (daxctl) of the 0.0 GiB device under load"
set xrange [-10:100]
plot "load.dat" u 1:2:3:4 w yerrorlines t "stock", \
     "load.dat" u 1:5:6:7 w yerrorlines t "series"
unset multiplot
