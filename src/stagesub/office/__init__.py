"""The office: what staff open every morning (dashboard, activity feed, booked musicians).

Sits above the domain apps (roster, rankings, projects, offers, messaging) and reads them;
none of them imports it.
"""
