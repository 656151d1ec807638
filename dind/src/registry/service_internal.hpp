#pragma once
// Internal to registry/: a shared layer download (Service::Job).

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include "dind/image/content_store.hpp"
#include "dind/image/layer_store.hpp"
#include "dind/registry/repository.hpp"
#include "dind/registry/service.hpp"

namespace dind::registry {

// The 12 hex digits progress lines name a layer by.
inline std::string short_id(const std::string& digest) {
  return digest.substr(digest.find(':') + 1, 12);
}

// One layer's download, keyed by chain ID and shared by every pull that
// needs it. The download thread moves it from kQueued to kStaged (unpacked
// aside, verified) or kFailed; a pull holding the image mutation lock moves
// it to kAdopted. The last owner discards a staged layer nobody adopted.
struct Service::Job {
  enum class State { kQueued, kDownloading, kVerifying, kStaged, kAdopted, kFailed };
  ~Job();
  std::string chain_id;
  std::string parent;  // chain ID, "" for a base layer
  std::string diff_id;
  Descriptor layer;
  std::shared_ptr<Repository> repo;
  image::LayerStore* layers = nullptr;
  uint64_t total = 0;
  std::atomic<uint64_t> current{0};
  // Pulls waiting for this download; at 0 it stops (cancelled).
  std::atomic<int> waiters{0};

  std::mutex mu;
  std::condition_variable cv;
  State state = State::kQueued;
  std::optional<image::LayerStore::Staged> staged;
  // The blob as served, kept (committed at adoption) for save and push.
  std::optional<image::ContentStore::Writer> kept;
  std::optional<base::Error> error;
};

}  // namespace dind::registry
