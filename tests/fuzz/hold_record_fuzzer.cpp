// parse_hold_record on arbitrary text: no crash, no escaping exception; an accepted record is in range and survives
// to_json_text() and back unchanged.
#include "daemon/journal.hpp"
#include "fuzz_check.hpp"

namespace {

bool same(const sigdrain::HoldRecord& a, const sigdrain::HoldRecord& b) {
  return a.container_id == b.container_id && a.tgid == b.tgid && a.start_time == b.start_time &&
         a.signo == b.signo && a.held_at_ms == b.held_at_ms && a.drain_deadline_ms == b.drain_deadline_ms &&
         a.kill_at_ms == b.kill_at_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  auto record = parse_hold_record(fuzz::as_text(data, size));
  if (!record) {
    FUZZ_CHECK(!record.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(record->tgid > 0);
  FUZZ_CHECK(record->signo >= 1 && record->signo <= 64);
  auto again = parse_hold_record(to_json_text(*record));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(same(*record, *again));
  return 0;
}
