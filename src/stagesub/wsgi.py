import os

from django.core.wsgi import get_wsgi_application

from stagesub.filemodes import restrict_new_files

# Whatever server imports us (gunicorn, uwsgi, mod_wsgi): our files are private (filemodes).
restrict_new_files()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stagesub.settings")
application = get_wsgi_application()
