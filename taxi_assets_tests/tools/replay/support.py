"""What the replay tests share: how many real trips the sample of a month holds."""

ROWS = 1_500
