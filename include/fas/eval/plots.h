// The plots of a folder of runs (confusion matrices, training curves, conflict figures), drawn as PNG by
// scripts/plot.py with Debian's python and matplotlib.
#pragma once

#include <optional>
#include <string>

namespace fas {

// scripts/plot.py beside the working directory, or in a folder above the executable (a build inside the tree);
// "" when there is none.
std::string FindPlotScript();

// Draws the plots of the runs under `runs` into `out`; returns the number of PNG files there, or nullopt (with a
// warning saying why) when the script, python or matplotlib is missing or the script failed.
std::optional<int> DrawPlots(const std::string& runs, const std::string& out);

}  // namespace fas
