// The paper's tables rebuilt from run folders: every eval/NAME/results.json under a folder joined with its run's
// run.json, aggregated over seeds as mean ± std, the best per column marked, and the published numbers of
// configs/paper/published.yaml in a column beside ours wherever the paper has the same cell. One header a job:
//   run_results.h     collecting results, each with what its run is (run_info.h: RUN/run.json)
//   table.h           the table itself: columns, rows, cells
//   table_stats.h     mean ± std over seeds, modal settings, run averages, the best cells
//   paper.h           the paper's corpora, row order and published numbers
//   paired_stats.h    McNemar's exact test, Holm's correction, the paired bootstrap
//   comparisons.h     the models tested against each other from their predictions
//   table_registry.h  table kinds by name, building them (the paper's five: paper_tables.cpp)
//   table_render.h    Markdown, LaTeX, CSV and the files
//   plots.h           the PNG plots
#pragma once

#include "fas/eval/comparisons.h"
#include "fas/eval/paper.h"
#include "fas/eval/run_results.h"
#include "fas/eval/table.h"
#include "fas/eval/table_registry.h"
#include "fas/eval/table_render.h"
#include "fas/eval/table_stats.h"
