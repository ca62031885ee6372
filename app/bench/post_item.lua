-- wrk script: POST /api/v1/items with a name no other request of this run uses (names are unique).
local thread_count = 0
local run = tostring(os.time())

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

local counter = 0

function request()
  counter = counter + 1
  local body = string.format('{"name":"bench-%s-%s-%d","price":"9.99"}', run, thread_id, counter)
  return wrk.format("POST", "/api/v1/items", { ["Content-Type"] = "application/json" }, body)
end
