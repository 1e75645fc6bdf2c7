-- wrk script: GET a forward-auth path (Drawbridge's /auth/verify, or an nginx location guarded by
-- auth_request) with a drawbridge_session cookie, rotating over signed-in users; counts status codes.
--
-- Environment (set by scripts/bench/forward-auth.sh):
--   BENCH_SESSIONS     file of drawbridge_session cookie values, one per line; thread i uses the
--                      lines i, i + threads, ... round-robin (different users; with fewer lines than
--                      threads, every thread uses all of them). Unset or empty:
--                      no Cookie header at all (anonymous requests, which must get 401).
--   BENCH_COOKIE_NAME  cookie name (default drawbridge_session)
--   BENCH_THREADS      wrk -t (to split the sessions file)
--   BENCH_STATUS_FILE  if set, done() appends "status count" lines to it

local threads = {}
local next_id = 0
function setup(thread)
    next_id = next_id + 1
    thread:set("id", next_id)
    table.insert(threads, thread)
end

counts = {}
local cookies, k, anonymous
function init(args)
    local path = os.getenv("BENCH_SESSIONS") or ""
    local name = os.getenv("BENCH_COOKIE_NAME") or "drawbridge_session"
    anonymous = (path == "")
    k = 0
    if anonymous then return end
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    cookies = {}
    local all, i = {}, 0
    for line in io.lines(path) do
        if line ~= "" then
            table.insert(all, name .. "=" .. line)
            if (i % nthreads) + 1 == id then table.insert(cookies, name .. "=" .. line) end
            i = i + 1
        end
    end
    if #all == 0 then error("no sessions in " .. path) end
    -- Fewer sessions than threads (the one-session diagnostic): every thread uses all of them.
    if #cookies == 0 then cookies = all end
end

function request()
    if anonymous then return wrk.format("GET", wrk.path) end
    k = k % #cookies + 1
    return wrk.format("GET", wrk.path, { ["Cookie"] = cookies[k] })
end

function response(status, _, _)
    local key = tostring(status)
    counts[key] = (counts[key] or 0) + 1
end

function done(stats, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for key, v in pairs(thread:get("counts") or {}) do total[key] = (total[key] or 0) + v end
    end
    local keys = {}
    for key in pairs(total) do table.insert(keys, key) end
    table.sort(keys)
    local out = os.getenv("BENCH_STATUS_FILE")
    local file = out and io.open(out, "a") or nil
    for _, key in ipairs(keys) do
        io.write(string.format("status %s: %d\n", key, total[key]))
        if file then file:write(string.format("%s %d\n", key, total[key])) end
    end
    if file then file:close() end
end
