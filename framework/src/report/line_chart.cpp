// svg_line_chart: data coordinates mapped into a plot box with margins for
// the tick labels; colours from a fixed palette so reports look alike.
#include "recforge/report/line_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "recforge/report/run_report.hpp"

namespace recforge::report {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
constexpr int kLeft = 64, kRight = 16, kTop = 32, kBottom = 44, kLegendRow = 16;

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.1e}", v);
  return fmt::format("{:g}", v);
}

}  // namespace

std::vector<double> nice_ticks(double low, double high) {
  // A flat series, or one whose range is rounding noise (a step that small
  // would not move t below and the loop would never end), is padded.
  if (!(high - low > 1e-9 * std::max(std::fabs(low), std::fabs(high)))) {
    const double pad = low == 0 ? 1.0 : std::fabs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  const double raw = (high - low) / 6;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if ((high - low) / step <= 8) break;
  }
  std::vector<double> ticks;
  for (double t = std::floor(low / step) * step; t <= high + step * 1e-9; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.front() > low) ticks.insert(ticks.begin(), ticks.front() - step);
  if (ticks.back() < high) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string svg_line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low, y_low = x_low, y_high = -x_low;
  std::vector<const Series*> drawn;
  for (const Series& s : series) {
    bool any = false;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      any = true;
      x_low = std::min(x_low, x), x_high = std::max(x_high, x);
      y_low = std::min(y_low, y), y_high = std::max(y_high, y);
    }
    if (any) drawn.push_back(&s);
  }
  const int legend = static_cast<int>(drawn.size()) * kLegendRow;
  const int height = o.height + legend;
  std::string svg = fmt::format(
      "<svg id=\"{}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\">\n<title>{}</title>\n"
      "<text x=\"{}\" y=\"18\" class=\"chart-title\">{}</text>\n",
      html_escape(o.id), o.width, height, o.width, height, html_escape(o.title), kLeft, html_escape(o.title));
  if (drawn.empty()) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"no-data\">no data</text>\n</svg>\n", o.width / 2 - 24,
                       o.height / 2);
    return svg;
  }
  const std::vector<double> xt = nice_ticks(x_low, x_high), yt = nice_ticks(y_low, y_high);
  const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
  const double plot_w = o.width - kLeft - kRight, plot_h = o.height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * plot_w; };
  auto py = [&](double y) { return kTop + plot_h - (y - y0) / (y1 - y0) * plot_h; };

  svg += "<g class=\"axes\" stroke=\"#999\" stroke-width=\"1\" font-size=\"11\">\n";
  for (double t : yt) {
    svg += fmt::format("<line x1=\"{}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" stroke=\"none\" fill=\"#444\">{}</text>\n",
                       kLeft, kLeft + plot_w, py(t), py(t), kLeft - 6, py(t) + 4, tick_label(t));
  }
  for (double t : xt) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" stroke=\"none\" fill=\"#444\">{}"
                       "</text>\n",
                       px(t), kTop + plot_h + 16, tick_label(t));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\"/>\n", kLeft, kTop,
                     plot_w, plot_h);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" stroke=\"none\" fill=\"#222\">{}</text>\n",
                     kLeft + plot_w / 2, kTop + plot_h + 34, html_escape(o.x_label));
  svg += fmt::format("<text transform=\"translate(14 {:.1f}) rotate(-90)\" text-anchor=\"middle\" stroke=\"none\" "
                     "fill=\"#222\">{}</text>\n</g>\n",
                     kTop + plot_h / 2, html_escape(o.y_label));

  for (std::size_t i = 0; i < drawn.size(); ++i) {
    const char* colour = kPalette[i % std::size(kPalette)];
    std::string points;
    for (const auto& [x, y] : drawn[i]->points) {
      if (std::isfinite(x) && std::isfinite(y)) points += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    }
    svg += fmt::format("<polyline class=\"series\" data-name=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
                       "points=\"{}\"/>\n",
                       html_escape(drawn[i]->name), colour, points);
    const int row = o.height + static_cast<int>(i) * kLegendRow;
    svg += fmt::format("<g class=\"legend\"><rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text></g>\n",
                       kLeft, row - 4, colour, kLeft + 18, row, html_escape(drawn[i]->name));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace recforge::report
