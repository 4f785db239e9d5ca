# Consol class-sync: Cymraeg. Rhaid i bob neges yma fod yn en.ftl hefyd (mae prawf yn gwirio).

app-name = class-sync
skip-to-content = Neidio i'r cynnwys
nav-label = Prif
nav-groups = Gweld Grwpiau
nav-status = Statws
nav-schools = Ysgolion
nav-administration = Gweinyddu
breadcrumb = Rydych chi yma
nav-audit = Log archwilio
lang-switch = English
signed-in-as = Wedi mewngofnodi fel { $person }
sign-out = Allgofnodi

## Mewngofnodi
sign-in-title = Mewngofnodi
sign-in-lead = Mewngofnodwch gyda chyfrif Microsoft eich ysgol i weld eich dosbarthiadau ac adfer eu timau a'u cyrsiau.
sign-in-button = Mewngofnodi gyda Microsoft
sign-in-again = Mewngofnodi eto
error-sign-in-failed = Ni chwblhawyd y mewngofnodi:

## Gwallau a hysbysiadau
error-title = Aeth rhywbeth o'i le
error-forbidden-title = Ni chaniateir
error-not-found-title = Heb ei ganfod
error-conflict-title = Dim i'w wneud
notice-title = Wedi'i wneud
back-to-groups = Yn ôl i Gweld Grwpiau
error-store = Ni all class-sync ddarllen ei ddata ar hyn o bryd. Rhowch gynnig arall arni mewn munud.
error-busy = Mae llawer o bobl yn mewngofnodi ar hyn o bryd. Rhowch gynnig arall arni mewn munud.
error-csrf = Ni ddaeth y ffurflen hon o dudalen yn y sesiwn hon, felly ni newidiwyd dim. Ewch yn ôl, ail-lwythwch y dudalen a rhowch gynnig arall arni.
error-operators-only = Dim ond gweithredwyr all agor y dudalen hon.
error-no-group = Nid oes grŵp o'r fath.
error-not-your-group = Ni chewch weld y grŵp hwn: fe'i dangosir i weinyddwyr Hwb yr ysgol ac i athrawon y dosbarth.
error-bad-target = Dewiswch Dîm Microsoft neu Google Classroom.
error-not-found = Nid oes ysgol na grŵp o'r fath.

## Gweld Grwpiau
groups-title = Gweld Grwpiau
groups-operator-note = Fel gweithredwr rydych yn gweld pob grŵp.
filter-year = Blwyddyn academaidd
filter-year-group = Grŵp blwyddyn
filter-target = Math o grŵp
filter-teacher = Athro
filter-any = Unrhyw un
filter-apply = Hidlo
target-teams = Tîm Microsoft
target-classroom = Google Classroom
groups-none-visible = Nid ydych yn weinyddwr Hwb ysgol nac yn athro dosbarth y mae class-sync yn ei adnabod, felly nid oes grwpiau i chi eu gweld.
groups-none-match = Nid oes grwpiau'n cyfateb i'r hidlwyr hyn.
groups-count = { $total ->
    [one] Un grŵp
   *[other] { $total } o grwpiau
}
col-group = Grŵp
col-school = Ysgol
col-year = Blwyddyn academaidd
col-year-group = Grŵp blwyddyn
col-subject = Pwnc
page-next = Tudalen nesaf
page-previous = Tudalen flaenorol
page-older = Cofnodion hŷn
pages = Tudalennau

## Cyflwr y cysylltiadau
state-pending = yn aros
state-active = gweithredol
state-archived = wedi'i archifo
state-restoring = yn adfer
state-restored = wedi'i adfer
state-failed = wedi methu

## Tudalen grŵp
restore-requested = Gofynnwyd am adfer y { $target }: mae'r dudalen hon yn ei ddilyn.
resync-requested = Gofynnwyd am ail-gysoni: { $jobs ->
    [one] un dasg
   *[other] { $jobs } o dasgau
} yn y ciw.
group-withdrawn = Nid yw'r grŵp hwn bellach yn nata MIS yr ysgol. Gadewir ei dîm a'i gwrs fel y maent.
group-overview = Trosolwg
group-links = Timau a chyrsiau
group-learners = Dysgwyr
col-teachers = Athrawon
col-target = Gwasanaeth
col-state = Cyflwr
col-mis = Cysylltiad MIS
col-last-sync = Cysoni diwethaf
col-last-error = Gwall diwethaf
col-actions = Camau
mis-linked = Wedi'i gysylltu â MIS
mis-unlinked = Heb ei gysylltu â MIS
none = dim
never = byth
restore-teams = Adfer Tîm Microsoft
restore-classroom = Adfer Google Classroom
restore-refused-forbidden = Ni chewch adfer y dosbarth hwn: dim ond gweinyddwyr Hwb yr ysgol ac athrawon y dosbarth all wneud hynny. Cofnodwyd y gwrthodiad.
restore-refused-conflict = Nid yw'r tîm neu'r cwrs hwn wedi'i archifo, felly nid oes dim i'w adfer.
resync-group = Ail-gysoni'r grŵp

## Statws (gweithredwyr)
status-title = Statws
status-today = Dyddiad y calendr: { $year }
status-links = Timau a chyrsiau fesul blwyddyn academaidd a chyflwr
status-queue = Ciw fesul lôn
queue-empty = Nid oes dim yn y ciw.
status-workers = Gweithwyr byw
workers-none = Nid oes gweithiwr yn rhedeg.
status-nightly = Rhediadau nosweithiol
status-failures = Methiannau
failures-none = Nid oes dim wedi methu.
failures-count = { $count ->
    [one] Un tîm neu gwrs wedi methu:
   *[other] { $count } o grwpiau â thîm neu gwrs wedi methu:
}
col-count = Nifer
col-lane = Lôn
col-kind = Math
col-day = Diwrnod
col-outcome = Canlyniad
col-finished = Wedi gorffen
col-summary = Crynodeb
run-last = Rhediad diwethaf
run-last-ok = Rhediad llwyddiannus diwethaf
run-ok = llwyddodd
run-failed = methodd rhai tasgau
run-running = yn rhedeg

## Ysgolion (gweithredwyr)
schools-title = Ysgolion
schools-summary = { $count } o ysgolion. Mae ysgol heb fewnforio ers { $days } diwrnod neu fwy yn hen; daw'r ysgolion hen yn gyntaf.
resync-school-requested = Gofynnwyd am ail-gysoni ysgol { $school }: { $jobs ->
    [one] un dasg
   *[other] { $jobs } o dasgau
} yn y ciw.
col-last-import = Mewnforio diwethaf
col-days-since = Diwrnodau ers hynny
col-format = Fformat
col-stale = Data
stale = hen
fresh = cyfredol
resync-school = Ail-gysoni'r ysgol

## Rhagolwg archif diwedd blwyddyn (gweithredwyr)
archive-year = Archif diwedd blwyddyn
archive-preview-button = Rhagolwg (rhediad prawf)
archive-title = Archif diwedd blwyddyn { $year }: rhediad prawf
archive-summary = Byddai archif { $year } yn archifo { $count } o dimau a chyrsiau mewn { $school } o ysgolion. Ni roddwyd dim yn y ciw.
archive-unlinked = Mae { $count } o dimau a chyrsiau wedi'u hadfer heb eu cysylltu â MIS a byddent yn cael eu gadael.
archive-no-years = Nid oes blwyddyn academaidd wedi'i ffurfweddu.

## Log archwilio (gweithredwyr)
audit-title = Log archwilio
audit-none = Nid oes cofnodion yn cyfateb.
col-when = Pryd
col-actor = Pwy
col-action = Gweithred
col-detail = Manylion
