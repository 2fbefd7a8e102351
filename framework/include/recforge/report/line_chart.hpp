// Line charts as inline SVG (no scripts, no external assets): what
// `recforge report` draws loss and metric curves with.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace recforge::report {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite values are skipped
};

struct ChartOptions {
  std::string id;  // the <svg id>, for tests and links
  std::string title, x_label, y_label;
  int width = 640, height = 320;
};

// An <svg> element: axes with rounded ticks, one polyline per series, a legend. Series without finite points are left out; a chart
// with none says "no data".
std::string svg_line_chart(const std::vector<Series>& series, const ChartOptions& options);

// Tick values covering [low, high]: 4 to 10 multiples of 1, 2 or 5 x 10^k.
std::vector<double> nice_ticks(double low, double high);

}  // namespace recforge::report
