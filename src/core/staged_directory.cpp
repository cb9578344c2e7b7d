#include "core/staged_directory.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace infini {

namespace {

constexpr const char* kStagingMark = ".staging-";

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

StagedDirectory::StagedDirectory(std::string target) : target_(std::move(target)) {
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  fs::path target_path(target_);
  if (target_path.has_parent_path()) fs::create_directories(target_path.parent_path());
  staging_ = target_ + kStagingMark + std::to_string(::getpid());
  fs::remove_all(staging_);
  fs::create_directory(staging_);
}

StagedDirectory::~StagedDirectory() {
  if (!committed_) {
    std::error_code ignored;
    fs::remove_all(staging_, ignored);
  }
}

void StagedDirectory::write_text(const std::string& name, const std::string& text) {
  std::ofstream out(path(name), std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("failed writing " + path(name));
}

void StagedDirectory::copy_file(const std::string& name, const std::string& source) {
  fs::copy_file(source, path(name), fs::copy_options::overwrite_existing);
}

void StagedDirectory::commit() {
  for (const auto& entry : fs::directory_iterator(staging_)) fsync_path(entry.path(), false);
  fsync_path(staging_, true);
  if (!fs::exists(target_)) {
    fs::rename(staging_, target_);
  } else {
    // Swap the two directories in one step, then drop the old one (now at the staging name).
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
      throw std::runtime_error("cannot swap " + staging_ + " into " + target_ + ": " + std::strerror(errno));
    }
    fs::remove_all(staging_);
  }
  fs::path parent = fs::path(target_).parent_path();
  fsync_path(parent.empty() ? "." : parent.string(), true);
  committed_ = true;
}

std::vector<std::string> remove_stale_staging(const std::string& parent) {
  std::vector<std::string> removed;
  std::error_code error;
  if (!fs::is_directory(parent, error)) return removed;
  for (const auto& entry : fs::directory_iterator(parent, error)) {
    const auto name = entry.path().filename().string();
    const auto mark = name.rfind(kStagingMark);
    if (mark == std::string::npos) continue;
    const auto digits = name.substr(mark + std::strlen(kStagingMark));
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its writer may still be at work
    fs::remove_all(entry.path(), error);
    if (!error) removed.push_back(entry.path().string());
  }
  return removed;
}

}  // namespace infini
