// Self-contained SVG charts for reports: a line plot and a heat map, written as text with no
// scripts, fonts or stylesheets beyond SVG's own, so any browser shows them as they are.
#pragma once

#include <string>
#include <vector>

namespace infini::svg {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order, each with a marker
  bool dashed = false;                             // (markers only up to kMaxMarkers points)
};

constexpr size_t kMaxMarkers = 100;

struct LinePlot {
  std::string title;
  std::string x_label, y_label;
  bool log_x = false;  // base-2 ticks, for token positions and lengths
  bool log_y = false;
  double y_min = 0.0, y_max = 0.0;  // both 0: from the data
  std::vector<Series> series;
};

// A grid of values in [0, 1], blue (0) through white (0.5) to red (1), each cell labelled, with a
// colour bar beside it.
struct HeatMap {
  std::string title;
  std::string row_label, column_label;
  std::vector<std::string> rows;       // labels, top to bottom
  std::vector<std::vector<double>> values;  // [row][column]
  std::string legend;                       // a line under the grid
};

std::string render(const LinePlot& plot);
std::string render(const HeatMap& map);

// "&", "<", ">" and quotes escaped for SVG text and attributes.
std::string escape(const std::string& text);

// Round tick values covering [low, high]: about `count` of 1, 2 or 5 × 10^k steps.
std::vector<double> nice_ticks(double low, double high, int count);

}  // namespace infini::svg
