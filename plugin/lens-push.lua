-- lens-pacs push: tells the lens-pacs service at once when a study becomes stable in Orthanc.
--
-- Configuration (in Orthanc's JSON configuration, read with GetOrthancConfiguration()):
--   "LensPush": { "Url": "http://127.0.0.1:8700/webhook/orthanc", "Secret": "<listener.webhook.secret>",
--                 "Enabled": true, "TimeoutSeconds": 5 }
-- Only the study's identifiers are sent (never patient data). Errors are logged and ignored: the service also
-- reads Orthanc's change feed, which catches every event this push loses.

local function pushConfig()
  local ok, cfg = pcall(GetOrthancConfiguration)
  if not ok or cfg == nil then return nil end
  local push = cfg['LensPush']
  if push == nil or push['Url'] == nil or push['Enabled'] == false then return nil end
  return push
end

function OnStableStudy(studyId, tags, metadata)
  local push = pushConfig()
  if push == nil then return end
  local body = DumpJson({
    event = 'StableStudy',
    orthancStudyId = studyId,
    studyInstanceUID = tags['StudyInstanceUID'],
  }, true)
  local headers = { ['Content-Type'] = 'application/json' }
  if push['Secret'] ~= nil then headers['X-Lens-Secret'] = push['Secret'] end
  -- SetHttpTimeout exists only in newer Orthanc releases.
  if SetHttpTimeout ~= nil then SetHttpTimeout(push['TimeoutSeconds'] or 5) end
  local ok, err = pcall(HttpPost, push['Url'], body, headers)
  if not ok then
    print('lens-push: could not reach ' .. push['Url'] .. ' for study ' .. studyId .. ' (the change feed will catch it): ' .. tostring(err))
  end
end
