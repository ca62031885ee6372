-- wrk script: POST /api/v1/items with a name no other request uses (names are unique). The run's tag
-- comes after wrk's `--`; every run of a benchmark passes its own.
local thread_count = 0
local tag = tostring(os.time())

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

function init(args)
  if args[1] then tag = args[1] end
end

local counter = 0

function request()
  counter = counter + 1
  local body = string.format('{"name":"bench-%s-%s-%d","price":"9.99"}', tag, thread_id, counter)
  return wrk.format("POST", "/api/v1/items", { ["Content-Type"] = "application/json" }, body)
end
