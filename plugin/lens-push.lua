-- lens-pacs push: tells the lens-pacs service at once when a study becomes stable in Orthanc.
--
-- Configuration (in Orthanc's JSON configuration, read with GetOrthancConfiguration()):
--   "LensPush": { "Url": "http://127.0.0.1:8700/webhook/orthanc", "Secret": "<listener.webhook.secret>",
--                 "Enabled": true, "TimeoutSeconds": 5, "RetryMaxSeconds": 60, "MaxQueue": 1000 }
-- Only the study's identifiers are sent (never patient data).
--
-- A push the service does not take (connection error, or an HTTP error such as 503 while its intake is closed on
-- a full disk) is kept in a bounded in-memory queue, oldest first, and tried again with capped exponential backoff
-- (1 s doubling up to RetryMaxSeconds). Retries run from Orthanc's Lua event thread, never from the thread that
-- stores instances: on Orthanc >= 1.11.1 from OnHeartBeat (set "LuaHeartBeatPeriod"), and on every version from
-- the next stable series or study (Orthanc 1.10 has no timer in Lua). While the service is out, events are queued
-- without a try until the backoff is due, so one try is made per backoff period, not one per event, and the outage
-- is logged twice: when it starts and when the service takes pushes again. A full queue drops its oldest event;
-- the queue does not survive a restart of Orthanc. Nothing is lost for good: the service also reads Orthanc's
-- change feed, which catches every event this push drops.
--
-- Orthanc 1.10's HttpPost answers nil on a connection error and "" on an HTTP error status (it does not raise);
-- the service answers every push it takes with a JSON body. So a push succeeded when the answer is not empty.

local queue = {}     -- request bodies waiting, oldest first
local failures = 0   -- failed tries in a row (the backoff exponent)
local nextTry = 0    -- os.time() from which the next try is due
local outage = nil   -- { since = os.time(), dropped = n } while the service does not take pushes
local MAX_PER_DRAIN = 50

local function pushConfig()
  local ok, cfg = pcall(GetOrthancConfiguration)
  if not ok or cfg == nil then return nil end
  local push = cfg['LensPush']
  if push == nil or push['Url'] == nil or push['Enabled'] == false then return nil end
  return push
end

-- One try; true when the service took the push, else false and what went wrong.
local function post(push, body)
  local headers = { ['Content-Type'] = 'application/json' }
  if push['Secret'] ~= nil then headers['X-Lens-Secret'] = push['Secret'] end
  -- SetHttpTimeout exists only from Orthanc 1.11.1 (older ones use the global HttpTimeout).
  if SetHttpTimeout ~= nil then SetHttpTimeout(push['TimeoutSeconds'] or 5) end
  local ok, answer = pcall(HttpPost, push['Url'], body, headers)
  if ok and answer ~= nil and answer ~= '' then return true end
  if not ok then return false, tostring(answer) end
  if answer == nil then return false, 'no answer (connection failed)' end
  return false, 'HTTP error status (e.g. 503: intake closed, or 401: secret mismatch)'
end

-- Sends what is queued, oldest first, while the service takes it; stops at the first failure and backs off.
local function drain(push)
  if #queue == 0 or os.time() < nextTry then return end
  for _ = 1, MAX_PER_DRAIN do
    if #queue == 0 then break end
    local ok, err = post(push, queue[1])
    if not ok then
      failures = failures + 1
      nextTry = os.time() + math.min(push['RetryMaxSeconds'] or 60, 2 ^ (failures - 1))
      if outage == nil then
        outage = { since = os.time(), dropped = 0 }
        print('lens-push: the service at ' .. push['Url'] .. ' does not take pushes (' .. err ..
          '); queuing events and retrying with backoff up to ' .. (push['RetryMaxSeconds'] or 60) ..
          ' s (logged once per outage; the change feed also catches them)')
      end
      return
    end
    table.remove(queue, 1)
  end
  if outage ~= nil then
    print('lens-push: the service takes pushes again after ' .. (os.time() - outage.since) .. ' s and ' .. failures ..
      ' failed tries' .. (outage.dropped > 0 and ('; ' .. outage.dropped .. ' events dropped from a full queue') or ''))
    outage = nil
  end
  failures = 0
  nextTry = 0
end

local function enqueue(push, body)
  if #queue >= (push['MaxQueue'] or 1000) then
    table.remove(queue, 1)
    if outage ~= nil then
      if outage.dropped == 0 then print('lens-push: queue full (' .. #queue .. '); dropping its oldest events (the change feed catches them)') end
      outage.dropped = outage.dropped + 1
    end
  end
  table.insert(queue, body)
end

-- A site's own OnStableStudy (a script loaded before this one) keeps running: lens orthanc-setup appends this
-- script to an existing LuaScripts list.
local previousStableStudy = OnStableStudy
function OnStableStudy(studyId, tags, metadata)
  if previousStableStudy ~= nil then previousStableStudy(studyId, tags, metadata) end
  local push = pushConfig()
  if push == nil then return end
  enqueue(push, DumpJson({
    event = 'StableStudy',
    orthancStudyId = studyId,
    studyInstanceUID = tags['StudyInstanceUID'],
  }, true))
  drain(push)
end

-- Retry drivers. Other scripts' handlers loaded before this one are kept and called first, as for OnStableStudy.
local previousStableSeries = OnStableSeries
function OnStableSeries(seriesId, tags, metadata)
  if previousStableSeries ~= nil then previousStableSeries(seriesId, tags, metadata) end
  if #queue == 0 then return end
  local push = pushConfig()
  if push ~= nil then drain(push) end
end

local previousHeartBeat = OnHeartBeat
function OnHeartBeat()
  if previousHeartBeat ~= nil then previousHeartBeat() end
  if #queue == 0 then return end
  local push = pushConfig()
  if push ~= nil then drain(push) end
end
