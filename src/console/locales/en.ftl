# class-sync console: English. Every message here must also be in cy.ftl (a test checks).

app-name = class-sync
skip-to-content = Skip to content
nav-label = Main
nav-groups = View Groups
nav-status = Status
nav-schools = Schools
nav-administration = Administration
breadcrumb = You are here
nav-audit = Audit log
lang-switch = Cymraeg
signed-in-as = Signed in as { $person }
sign-out = Sign out

## Signing in
sign-in-title = Sign in
sign-in-lead = Sign in with your school's Microsoft account to see your classes and restore their teams and courses.
sign-in-button = Sign in with Microsoft
sign-in-again = Sign in again
error-sign-in-failed = Sign-in did not complete:

## Errors and notices
error-title = Something went wrong
error-forbidden-title = Not allowed
error-not-found-title = Not found
error-conflict-title = Nothing to do
notice-title = Done
back-to-groups = Back to View Groups
error-store = class-sync cannot read its data just now. Try again in a moment.
error-busy = Many people are signing in just now. Try again in a moment.
error-csrf = This form did not come from a page of this session, so nothing was changed. Go back, reload the page and try again.
error-operators-only = Only operators may open this page.
error-no-group = There is no such group.
error-not-your-group = You may not see this group: it is shown to the school's Hwb administrators and the class's teachers.
error-bad-target = Choose Microsoft Team or Google Classroom.
error-not-found = There is no such school or group.

## View Groups
groups-title = View Groups
groups-operator-note = As an operator you see every group.
filter-year = Academic year
filter-year-group = Year group
filter-target = Group type
filter-teacher = Teacher
filter-any = Any
filter-apply = Filter
target-teams = Microsoft Team
target-classroom = Google Classroom
groups-none-visible = You are not a Hwb administrator of a school or a teacher of a class that class-sync knows, so there are no groups for you to see.
groups-none-match = No groups match these filters.
groups-count = { $total ->
    [one] One group
   *[other] { $total } groups
}
col-group = Group
col-school = School
col-year = Academic year
col-year-group = Year group
col-subject = Subject
page-next = Next page
page-previous = Previous page
page-older = Older entries
pages = Pages

## Link states (the words of CONTRACT §9)
state-pending = pending
state-active = active
state-archived = archived
state-restoring = restoring
state-restored = restored
state-failed = failed

## A group's page
restore-requested = Restore requested for the { $target }: this page follows it.
resync-requested = Resync requested: { $jobs ->
    [one] one job
   *[other] { $jobs } jobs
} queued.
group-withdrawn = This group is no longer in the school's MIS data. Its team and course are left as they are.
group-overview = Overview
group-links = Teams and courses
group-learners = Learners
col-teachers = Teachers
col-target = Service
col-state = State
col-mis = MIS link
col-last-sync = Last sync
col-last-error = Last error
col-actions = Actions
mis-linked = MIS-linked
mis-unlinked = MIS-unlinked
none = none
never = never
restore-teams = Restore Microsoft Team
restore-classroom = Restore Google Classroom
restore-refused-forbidden = You may not restore this class: only the school's Hwb administrators and the class's teachers may. The refusal has been recorded.
restore-refused-conflict = This team or course is not archived, so there is nothing to restore.
resync-group = Resync group

## Status (operators)
status-title = Status
status-today = Calendar date: { $year }
status-links = Teams and courses by academic year and state
status-queue = Queue by lane
queue-empty = Nothing is queued.
status-workers = Live workers
workers-none = No worker is running.
status-nightly = Nightly runs
status-failures = Failures
failures-none = Nothing has failed.
failures-count = { $count ->
    [one] One failed team or course:
   *[other] { $count } groups with a failed team or course:
}
col-count = Number
col-lane = Lane
col-kind = Kind
col-day = Day
col-outcome = Outcome
col-finished = Finished
col-summary = Summary
run-last = Last run
run-last-ok = Last successful run
run-ok = succeeded
run-failed = some jobs failed
run-running = running

## Schools (operators)
schools-title = Schools
schools-summary = { $count } schools. A school with no import for { $days } days or more is stale; stale schools come first.
resync-school-requested = Resync of school { $school } requested: { $jobs ->
    [one] one job
   *[other] { $jobs } jobs
} queued.
col-last-import = Last import
col-days-since = Days since
col-format = Format
col-stale = Data
stale = stale
fresh = current
resync-school = Resync school

## Year-end archive preview (operators)
archive-year = Year-end archive of
archive-preview-button = Preview (dry run)
archive-title = Year-end archive of { $year }: dry run
archive-summary = The archive of { $year } would archive { $count } teams and courses in { $school } schools. Nothing has been queued.
archive-unlinked = { $count } restored teams and courses are MIS-unlinked and would be left alone.
archive-no-years = No academic year is configured.

## Audit log (operators)
audit-title = Audit log
audit-none = No entries match.
col-when = When
col-actor = Who
col-action = Action
col-detail = Detail
