#include "fas/tasks/registry.h"

#include <algorithm>

#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/tasks/asr/asr_task.h"
#include "fas/tasks/ser/ser_task.h"

namespace fas {
namespace {

using TaskLoader = std::unique_ptr<Task> (*)(const std::vector<std::string>& files,
                                             const std::vector<std::string>& sets, bool run_config);

struct TaskEntry {
  std::string name;
  TaskLoader load;
};

// One row a task. An explicit table: a static library leaves out an object file nothing references, so a task
// registering itself from its own file could be missing without a word.
const std::vector<TaskEntry>& Registry() {
  static const std::vector<TaskEntry> tasks = {
      {"ser",
       [](const std::vector<std::string>& files, const std::vector<std::string>& sets, bool run_config) {
         return MakeSerTask(LoadExperimentConfig(files, sets, run_config));
       }},
      {"asr",
       [](const std::vector<std::string>& files, const std::vector<std::string>& sets, bool) {
         return MakeAsrTask(LoadAsrExperimentConfig(files, sets));
       }},
  };
  return tasks;
}

}  // namespace

std::string ExperimentTask(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  const ConfigNode root = LoadConfigTree(files, sets);
  const ConfigNode* task = root.Find("task");
  if (task == nullptr || task->kind == ConfigNode::Kind::kNull) return "ser";
  std::string value;
  config_detail::ParseScalar(*task, "task", value);
  return value;
}

std::vector<std::string> TaskNames() {
  std::vector<std::string> names;
  for (const auto& t : Registry()) names.push_back(t.name);
  return names;
}

std::unique_ptr<Task> LoadTask(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                               bool run_config) {
  const std::string name = ExperimentTask(files, sets);
  const auto& tasks = Registry();
  const auto it = std::find_if(tasks.begin(), tasks.end(), [&](const TaskEntry& t) { return t.name == name; });
  if (it == tasks.end()) {
    std::string known;
    for (const auto& t : tasks) known += (known.empty() ? "" : ", ") + t.name;
    throw ConfigError("task: '" + name + "' is not a task fas trains (known: " + known + ")");
  }
  return it->load(files, sets, run_config);
}

}  // namespace fas
