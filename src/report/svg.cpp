#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "core/number_format.h"

namespace infini::svg {

namespace {

constexpr double kPlotWidth = 460, kHeight = 420;
constexpr double kLeft = 70, kTop = 40, kBottom = 55;
constexpr double kCharWidth = 7;  // about, for 12px sans-serif: sizes the legend column
const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

// Maps data to pixels on one axis, linear or logarithmic.
struct Axis {
  double low, high, from, to;
  bool log;
  double operator()(double v) const {
    const double a = log ? std::log2(low) : low, b = log ? std::log2(high) : high;
    const double t = ((log ? std::log2(v) : v) - a) / (b - a);
    return from + t * (to - from);
  }
};

// Powers of two (token counts); 1-2-5 steps per decade when the range spans more than 2^10.
std::vector<double> log_ticks(double low, double high) {
  std::vector<double> ticks;
  if (high / low > 1024) {
    for (double decade = std::pow(10.0, std::floor(std::log10(low))); decade <= high; decade *= 10) {
      for (const double m : {1.0, 2.0, 5.0}) {
        if (m * decade >= low * 0.9999 && m * decade <= high * 1.0001) ticks.push_back(m * decade);
      }
    }
    return ticks;
  }
  for (double t = std::exp2(std::floor(std::log2(low))); t <= high * 1.0001; t *= 2) {
    if (t >= low * 0.9999) ticks.push_back(t);
  }
  while (ticks.size() > 10) {  // every other power of two
    std::vector<double> fewer;
    for (size_t i = 0; i < ticks.size(); i += 2) fewer.push_back(ticks[i]);
    ticks = fewer;
  }
  return ticks;
}

// 0 → blue (33,102,172), 0.5 → white, 1 → red (178,24,43)
std::string diverging_colour(double value) {
  const double v = std::clamp(value, 0.0, 1.0);
  const double t = std::fabs(v - 0.5) * 2;
  auto channel = [&](double low, double high) { return static_cast<int>(255 + t * ((v < 0.5 ? low : high) - 255)); };
  return fmt::format("rgb({},{},{})", channel(33, 178), channel(102, 24), channel(172, 43));
}

}  // namespace

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double low, double high, int count) {
  if (!(high > low)) return {low};
  const double raw = (high - low) / std::max(1, count);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (auto k = static_cast<int64_t>(std::ceil(low / step - 1e-9)); k * step <= high + step * 1e-9; ++k) {
    ticks.push_back(static_cast<double>(k) * step);
  }
  return ticks;
}

std::string render(const LinePlot& plot) {
  double x_low = std::numeric_limits<double>::max(), x_high = std::numeric_limits<double>::lowest();
  double y_low = x_low, y_high = x_high;
  for (const auto& s : plot.series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y) || (plot.log_x && x <= 0) || (plot.log_y && y <= 0)) continue;
      x_low = std::min(x_low, x), x_high = std::max(x_high, x);
      y_low = std::min(y_low, y), y_high = std::max(y_high, y);
    }
  }
  if (x_low > x_high) x_low = 1, x_high = 2, y_low = 0, y_high = 1;  // nothing to draw
  if (plot.y_min != 0.0 || plot.y_max != 0.0) y_low = plot.y_min, y_high = plot.y_max;
  if (x_high == x_low) x_high = x_low * (plot.log_x ? 2 : 1) + 1;
  if (y_high == y_low) y_high = y_low + std::max(1e-9, std::fabs(y_low) * 0.1);
  std::vector<double> y_ticks;
  if (plot.log_y) {
    y_ticks = log_ticks(y_low, y_high);
  } else {
    y_ticks = nice_ticks(y_low, y_high, 6);
    y_low = std::min(y_low, y_ticks.front()), y_high = std::max(y_high, y_ticks.back());
  }
  size_t longest = 0;
  for (const auto& s : plot.series) longest = std::max(longest, s.name.size());
  const double right = std::clamp(kCharWidth * static_cast<double>(longest) + 60, 120.0, 480.0);
  const double width = kLeft + kPlotWidth + right;
  const auto x_ticks = plot.log_x ? log_ticks(x_low, x_high) : nice_ticks(x_low, x_high, 8);
  const Axis xs{x_low, x_high, kLeft, width - right, plot.log_x};
  const Axis ys{y_low, y_high, kHeight - kBottom, kTop, plot.log_y};

  std::ostringstream out;
  out << fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )svg"
                     R"svg(font-family="sans-serif" font-size="12">)svg" "\n",
                     width, kHeight);
  out << fmt::format(R"svg(<rect width="{}" height="{}" fill="white"/>)svg" "\n", width, kHeight);
  out << fmt::format(R"svg(<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>)svg" "\n",
                     (kLeft + width - right) / 2, escape(plot.title));
  for (const double t : y_ticks) {
    if (t < y_low || t > y_high) continue;
    out << fmt::format(R"svg(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#ddd"/>)svg" "\n", kLeft, ys(t),
                       width - right, ys(t));
    out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)svg" "\n", kLeft - 6, ys(t) + 4, length_text(t));
  }
  for (const double t : x_ticks) {
    if (t < x_low || t > x_high) continue;
    out << fmt::format(R"svg(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#eee"/>)svg" "\n", xs(t), kTop,
                       xs(t), kHeight - kBottom);
    out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)svg" "\n", xs(t),
                       kHeight - kBottom + 16, length_text(t));
  }
  out << fmt::format(R"svg(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333"/>)svg" "\n", kLeft, kTop,
                     width - right - kLeft, kHeight - kBottom - kTop);
  out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)svg" "\n", (kLeft + width - right) / 2,
                     kHeight - 12, escape(plot.x_label));
  out << fmt::format(R"svg(<text transform="translate(16 {:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg" "\n",
                     (kTop + kHeight - kBottom) / 2, escape(plot.y_label));
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const auto& s = plot.series[i];
    const char* colour = kColours[i % std::size(kColours)];
    std::string points, markers;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y) || (plot.log_x && x <= 0) || (plot.log_y && y <= 0)) continue;
      const double cy = std::clamp(ys(y), kTop, kHeight - kBottom);
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", xs(x), cy);
      markers += fmt::format(R"svg(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>)svg" "\n", xs(x), cy, colour);
    }
    out << fmt::format(R"svg(<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>)svg" "\n", colour,
                       s.dashed ? R"svg( stroke-dasharray="6 4")svg" : "", points);
    if (s.points.size() <= kMaxMarkers) out << markers;  // a single point is a marker, not an empty plot
    const double ly = kTop + 14 + 18 * static_cast<double>(i);
    out << fmt::format(R"svg(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"{}/>)svg" "\n",
                       width - right + 12, ly - 4, width - right + 36, ly - 4, colour,
                       s.dashed ? R"svg( stroke-dasharray="6 4")svg" : "");
    out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}">{}</text>)svg" "\n", width - right + 42, ly, escape(s.name));
  }
  out << "</svg>\n";
  return out.str();
}

std::string render(const HeatMap& map) {
  const size_t columns = map.values.empty() ? 0 : map.values.front().size();
  const double cell = 44, left = 90, top = 50;
  const double bar_x = left + cell * static_cast<double>(columns) + 24;  // the colour bar, right of the grid
  const double width = std::max(bar_x + 70,
                                 20 + kCharWidth * static_cast<double>(std::max(map.legend.size(), map.title.size() * 5 / 4)));
  const double height = top + cell * static_cast<double>(map.values.size()) + 70;
  std::ostringstream out;
  out << fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" )svg"
                     R"svg(viewBox="0 0 {0:.0f} {1:.0f}" font-family="sans-serif" font-size="12">)svg" "\n",
                     width, height);
  out << fmt::format(R"svg(<rect width="{:.0f}" height="{:.0f}" fill="white"/>)svg" "\n", width, height);
  out << fmt::format(R"svg(<text x="10" y="22" font-size="15">{}</text>)svg" "\n", escape(map.title));
  for (size_t r = 0; r < map.values.size(); ++r) {
    const double y = top + cell * static_cast<double>(r);
    out << fmt::format(R"svg(<text x="{:.0f}" y="{:.1f}" text-anchor="end">{}</text>)svg" "\n", left - 8, y + cell / 2 + 4,
                       escape(r < map.rows.size() ? map.rows[r] : std::to_string(r)));
    for (size_t c = 0; c < map.values[r].size(); ++c) {
      const double t = std::fabs(std::clamp(map.values[r][c], 0.0, 1.0) - 0.5) * 2;
      const double x = left + cell * static_cast<double>(c);
      out << fmt::format(R"svg(<rect x="{:.0f}" y="{:.0f}" width="{:.0f}" height="{:.0f}" fill="{}" stroke="#999"/>)svg"
                         "\n",
                         x, y, cell, cell, diverging_colour(map.values[r][c]));
      out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="11" fill="{}">{:.2f}</text>)svg" "\n",
                         x + cell / 2, y + cell / 2 + 4, t > 0.6 ? "white" : "black", map.values[r][c]);
    }
  }
  const double bottom = top + cell * static_cast<double>(map.values.size());
  // The colour bar: 1 at the top, 0 at the bottom, ticks where the classes change.
  const double bar_top = top, bar_height = std::max(cell * 2, bottom - top);
  out << R"svg(<defs><linearGradient id="bar" x1="0" y1="1" x2="0" y2="0">)svg";
  for (const double stop : {0.0, 0.5, 1.0}) {
    out << fmt::format(R"svg(<stop offset="{}" stop-color="{}"/>)svg", stop, diverging_colour(stop));
  }
  out << "</linearGradient></defs>\n";
  out << fmt::format(R"svg(<rect x="{:.0f}" y="{:.0f}" width="14" height="{:.0f}" fill="url(#bar)" stroke="#666"/>)svg" "\n",
                     bar_x, bar_top, bar_height);
  for (const double tick : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    const double y = bar_top + bar_height * (1 - tick);
    out << fmt::format(R"svg(<line x1="{0:.0f}" y1="{1:.1f}" x2="{2:.0f}" y2="{1:.1f}" stroke="#333"/>)svg"
                       R"svg(<text x="{3:.0f}" y="{4:.1f}" font-size="11">{5:g}</text>)svg" "\n",
                       bar_x + 14, y, bar_x + 18, bar_x + 21, y + 4, tick);
  }
  for (size_t c = 0; c < columns; ++c) {
    out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)svg" "\n",
                       left + cell * (static_cast<double>(c) + 0.5), bottom + 16, c);
  }
  out << fmt::format(R"svg(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)svg" "\n",
                     left + cell * static_cast<double>(columns) / 2, bottom + 36, escape(map.column_label));
  out << fmt::format(R"svg(<text x="10" y="{:.1f}">{}</text>)svg" "\n", bottom + 58,
                     escape(map.legend));
  out << fmt::format(R"svg(<text transform="translate(20 {:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg" "\n",
                     (top + bottom) / 2, escape(map.row_label));
  out << "</svg>\n";
  return out.str();
}

}  // namespace infini::svg
