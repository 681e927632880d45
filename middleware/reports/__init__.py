"""Reports: KPIs (AHT, ASA, service level, abandonment, FCR, occupancy) from call records and agent
state history, and their charts."""
