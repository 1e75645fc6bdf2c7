-- wrk script: GET /healthz as a monitoring probe, counting status codes.
--   BENCH_PROBE_DELAY_MS  pause per connection between requests (default 0:
--                         back to back); wrk's latency excludes the pause.
--   BENCH_STATUS_FILE     if set, done() appends "status count" lines to it

local pause = tonumber(os.getenv("BENCH_PROBE_DELAY_MS") or "0")

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

counts = {} -- global: done() reads it through thread:get("counts")

wrk.method = "GET"
wrk.path = "/healthz"

if pause > 0 then
    function delay()
        return pause
    end
end

function response(status, _, _)
    local key = tostring(status)
    counts[key] = (counts[key] or 0) + 1
end

function done(_, _, _)
    local total = {}
    for _, thread in ipairs(threads) do
        for k, v in pairs(thread:get("counts") or {}) do
            total[k] = (total[k] or 0) + v
        end
    end
    local keys = {}
    for k in pairs(total) do table.insert(keys, k) end
    table.sort(keys)
    local out = os.getenv("BENCH_STATUS_FILE")
    local file = out and io.open(out, "a") or nil
    for _, k in ipairs(keys) do
        io.write(string.format("status %s: %d\n", k, total[k]))
        if file then file:write(string.format("%s %d\n", k, total[k])) end
    end
    if file then file:close() end
end
