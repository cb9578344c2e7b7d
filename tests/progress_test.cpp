// The live progress line fits the terminal: never wider than its columns, the count and ETA kept,
// the detail cut last.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/progress.h"

using namespace infini;

TEST(Progress, LineFitsTheTerminal) {
  const std::string detail = "loss 4.1234 1850 tok/s, last book-00017.txt ppl 331.20";
  for (const int columns : {20, 40, 60, 80, 200}) {
    const auto line = progress_line(5, 10, detail, "3m05s", columns);
    EXPECT_LE(static_cast<int>(line.size()), columns - 1) << columns << ": " << line;
    if (columns >= 40) {
      EXPECT_NE(line.find(" 5/10"), std::string::npos) << line;
      EXPECT_NE(line.find("ETA 3m05s"), std::string::npos) << line;
    }
  }
  // Wide: the whole detail and a 24-cell bar, half filled.
  const auto wide = progress_line(5, 10, detail, "3m05s", 200);
  EXPECT_NE(wide.find(detail), std::string::npos) << wide;
  EXPECT_EQ(std::count(wide.begin(), wide.end(), '#'), 12);
  EXPECT_EQ(wide.find('~'), std::string::npos);
  // Narrow: the bar shrinks to 10 cells, then the detail is cut and marked.
  const auto narrow = progress_line(10, 10, detail, "0s", 60);
  EXPECT_EQ(std::count(narrow.begin(), narrow.end(), '#'), 10);
  EXPECT_NE(narrow.find('~'), std::string::npos) << narrow;
}

TEST(Progress, RedrawIsDueAQuarterSecondAfterTheLast) {
  EXPECT_FALSE(ProgressBar(10, false).due());  // a disabled bar never draws
  ProgressBar bar(10, true);
  EXPECT_TRUE(bar.due());
  bar.update(1, "", 0.0);
  EXPECT_FALSE(bar.due());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(bar.due());
  bar.clear();
}
