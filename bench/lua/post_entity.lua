-- S1: create one entity per request; ids are unique per thread and request.
local counter = 0

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  thread:set("prefix", tostring(os.time()))
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local id = string.format("urn:ngsi-ld:ParkingSpot:bench-%s-%d-%d", prefix or "r", thread_id, counter)
  local body = string.format(
    '{"id":"%s","type":"ParkingSpot","status":{"type":"Property","value":"free"},' ..
    '"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[127.0%05d,37.5%05d]}},' ..
    '"availableSpotNumber":{"type":"Property","value":%d,"observedAt":"2026-11-22T00:00:00Z"}}',
    id, counter % 99999, (counter * 7) % 99999, counter % 50)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
